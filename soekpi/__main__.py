from soekpi.cli import main

main()
