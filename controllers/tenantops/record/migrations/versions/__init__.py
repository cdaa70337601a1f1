"""One module per schema revision, oldest first; each is history and is never edited once released."""
