"""Market products: clearing rules (invitation and transaction forms) and the settlement of each market."""
