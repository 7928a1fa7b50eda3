"""Micro-tasks: serving the next question (``serving``), the kinds of question (``kinds``), recording answers.

Nothing is imported here: the labelling feature uses ``kinds`` and ``serving`` uses labelling, so this
package stays a plain namespace that importing ``kinds`` does not drag ``serving`` into.
"""
