"""The git-LFS API (batch, transfer, verify): used by huggingface_hub before 1.20 and by git-lfs."""
