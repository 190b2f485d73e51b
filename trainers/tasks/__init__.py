"""Tasks of the one training loop: pre-training and the fine-tuning tasks."""
