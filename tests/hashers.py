"""Argon2 at its cheapest, so tests still exercise the real algorithm without its cost."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 256
    parallelism = 1
