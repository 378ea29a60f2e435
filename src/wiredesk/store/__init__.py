"""The SQL database: the source of truth for feeds, articles, revisions and stories."""
