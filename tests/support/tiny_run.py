"""The smallest run the simulator CLI accepts: a custom config at d = 8, five steps, on the CPU."""

TINY_ARGS = [
    "--regime",
    "custom",
    "--d",
    "8",
    "--p",
    "4",
    "--m",
    "16",
    "--eta",
    "0.1",
    "--theta",
    "0.1",
    "--steps",
    "5",
    "--test-size",
    "256",
    "--snapshots",
    "2",
    "--device",
    "cpu",
]
