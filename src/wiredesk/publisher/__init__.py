"""The publisher: finished stories for consumers as Atom, RSS, JSON Feed and a ninjs JSON API."""
