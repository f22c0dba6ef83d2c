from otgate.cli import main

raise SystemExit(main())
