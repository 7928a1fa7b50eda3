"""Themes in free text: free-text answers, "Other" answers and ideas grouped by what they say.

``clustering`` holds the pure statistics (language detection, accent folding, TF-IDF on character
n-grams, agglomerative clustering with a distance threshold, naming); nothing here touches the store.
"""
