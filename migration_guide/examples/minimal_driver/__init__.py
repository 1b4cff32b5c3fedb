"""The driver porting guide's minimal example driver."""
