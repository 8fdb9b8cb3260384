"""User-facing text: the babel catalogs (``<locale>/LC_MESSAGES/*.po``) and their lookup
(:mod:`locales.catalog`). A pure core at the bottom of the layers: it imports nothing of
rasoat, so every other package may use it."""
