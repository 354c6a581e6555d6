"""One module per ``swiss-ner`` sub-command: each holds ``run(config) -> int`` and all of the
command's printing. Library modules return values and raise; these modules talk to the user."""
