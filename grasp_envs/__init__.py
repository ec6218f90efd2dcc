"""grasp-envs: Gymnasium environments for learned robotic grasp planning."""
__version__ = "0.1.0"
