"""``python main.py batch JOBS``: many renders from one jobs file, on local worker processes or Ray."""
