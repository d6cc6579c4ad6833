from katka.cli.main import main

main()
