"""The `shanzhi` command line (`bot.cli.main.app`), one module per command group."""
