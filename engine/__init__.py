"""samverkan's engine: the stored state, the lifecycle, and the API every edge calls."""
