"""The agents: classifier, planner, executor, verifier; and the decision backends they consult."""
