"""OGC API – Features: reads with filters and systems of coordinates, writes, pages for people."""
