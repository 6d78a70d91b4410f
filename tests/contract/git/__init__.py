"""git smart-HTTP and git-lfs with the stock command-line tools."""
