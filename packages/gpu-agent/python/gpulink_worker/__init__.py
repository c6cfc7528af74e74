"""gpulink worker: runs fastai jobs for the gpulink agent."""
