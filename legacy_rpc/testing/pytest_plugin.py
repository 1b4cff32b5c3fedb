"""pytest plugin (entry point ``pytest11``); fixtures are added below."""
