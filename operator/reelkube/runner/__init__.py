"""The in-pod runner: ``reelkube job --resource FILE`` renders one resource, uploads its outputs
and reports progress into the resource's own status."""
