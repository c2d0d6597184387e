from mlstore.cli import main

main()
