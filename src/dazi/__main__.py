from dazi.cli import main

main()
