"""The sensor simulator: synthetic station readings with injected, documented episodes.

Entry points: `simulator.run.generate` (messages, no broker) and `simulator.run.run_simulation`
(paced publishing); see docs/simulator.md.
"""
