"""Rewards: what members redeem their points for, and the catalog operators manage."""

from bot.features.rewards.operators import RewardError, add_reward, import_codes, list_rewards, read_codes
from bot.features.rewards.redeeming import Rewards

__all__ = ["RewardError", "Rewards", "add_reward", "import_codes", "list_rewards", "read_codes"]
