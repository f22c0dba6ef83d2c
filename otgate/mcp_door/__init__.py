"""`otgate mcp`: the door for LLM agents that use tools over the Model Context Protocol."""
