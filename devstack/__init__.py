"""Runs Matterline on one machine: embedded AWS, simulated Microsoft 365, simulated billing systems."""
