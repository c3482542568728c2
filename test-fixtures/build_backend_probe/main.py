import probe_result

print(f"probe looked at {probe_result.LOOKED} places and found: {probe_result.FOUND or 'nothing'}")
