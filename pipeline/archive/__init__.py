"""Raw pages kept content-addressed; reprocess and rescan from what is stored."""
