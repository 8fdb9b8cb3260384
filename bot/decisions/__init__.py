"""The decisions of the dialogs besides the interview's, as pure functions.

Each module decides a dialog's turns over plain values (what the shell in
``bot.dialogs`` loaded) and hands back replies and effects as values: no database, no
platform, no awaits, so every branch is tested without either.
"""
