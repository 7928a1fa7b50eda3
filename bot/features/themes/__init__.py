"""Themes in free text: free-text answers, "Other" answers and ideas grouped by what they say.

``clustering`` holds the pure statistics (language detection, TF-IDF on character n-grams,
agglomerative clustering with a distance threshold, naming); ``edits`` applies moderators' edits on top
of a clustering, by answer ids (also pure); nothing in either touches the store. Both run in the theme
worker process only (``worker`` starts it, ``runs`` is what it keeps and computes), so the bot process
never loads scikit-learn or the language model; ``folding`` is the accent folding the bot process shares.
``moderating`` is ``/themes`` and ``/theme``; ``promotions`` the options promoted from themes and the
campaign each round serves with them. When themes are computed is :mod:`bot.features.rounds.themes`.
"""
