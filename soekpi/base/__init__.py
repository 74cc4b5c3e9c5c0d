"""The base ring: errors, console, fiscal calendar, YAML reading, text and SQL helpers,
packaged resources. Nothing here imports anything else of soekpi's."""
