"""Ideas judged in pairs (a wiki survey): serving pairs, judgements, Bradley-Terry scores, ``/ideas best``."""
