"""The run pipeline: what runs one RenderJob or TTSJob, in its pod or on the command line.

Above the engine, speech and templates (which it drives) and below the controller and the
commands (which call it). Its modules:

- :mod:`~reelkube.pipeline.run`: the one pipeline (expand, fetch, plan, execute, upload,
  report), with a progress sink and a status writer passed in;
- :mod:`~reelkube.pipeline.render_job`: a RenderJob's part of it (template expansion, then the
  engine), and the plan ``reelkube plan`` prints;
- :mod:`~reelkube.pipeline.outputs`: uploading the files and describing them for the status;
- :mod:`~reelkube.pipeline.pod`: the render pod's entry (``reelkube job``): the mounted
  resource in, exit code and termination message out (see :mod:`reelkube.api.pod_contract`);
- :mod:`~reelkube.pipeline.status_reporter` and :mod:`~reelkube.pipeline.pacing`: the pod
  writing progress into its resource's status, paced on the API server's answers;
- :mod:`~reelkube.pipeline.cancel`: SIGTERM (or Ctrl-C) becomes Canceled, on every path.
"""
