"""What every layer may import: the configuration (config.yaml, org.yaml, the environment) and the clock.

It imports nothing of ours but ``classifiers.types`` (the names of categories and kinds of emergency, a pure
module that imports nothing of ours either): adapters, chat handling, services, storage and schedules all read
their settings and their time from here, and no layer below has to reach up into ``bot`` for them.
"""
