"""Platform adapters: each turns its platform's updates into engine calls and replies into widgets."""
