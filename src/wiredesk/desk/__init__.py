"""The editors' desk: the live queue of articles routing held for review, and the decisions."""
