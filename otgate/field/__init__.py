"""Southbound field adapters: one small interface (`FieldLink`), Modbus TCP, OPC UA and an in-memory fake."""

from otgate.field.link import FieldError, FieldLink, LinkDown, Reading, WriteRefused

__all__ = ["FieldError", "FieldLink", "LinkDown", "Reading", "WriteRefused"]
