"""Content fingerprints and near-duplicate signatures."""
