"""The simulated operations backend: an in-memory system of record with fault injection."""
from tools.sim.backend import SimulatedBackend
from tools.sim.faults import Fault, FaultError, FaultRate

__all__ = ["SimulatedBackend", "Fault", "FaultError", "FaultRate"]
