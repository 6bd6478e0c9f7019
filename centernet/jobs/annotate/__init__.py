"""`annotate`: videos, image folders, cameras and streams in; COCO JSON, MOT, CSV, rendered MP4 out.

plan.py     options, formats, one output folder per input, frames an input will give
result.py   what a job gives back (also a Ray pool's): per input ok or failed, and why
run.py      the job over all inputs and one input's pipeline: reader, inference, collector, encoder
state.py    resume state: fingerprint, chunk files, done markers
swap.py     --overwrite built beside the old output and swapped in when complete
exports.py  the export files and summary.json from the stored records; the rendered video's frames

Modules inside this package import each other by full module path, never through this file.
"""
from centernet.jobs.annotate.exports import RunStats, build_summary, write_exports
from centernet.jobs.annotate.plan import (FORMATS, OUTPUT_FILES, SUMMARY_FILE, AnnotateOptions, JobInput,
                                          estimate_frames, estimate_input_frames, expand_inputs, output_name,
                                          parse_formats, plan_job)
from centernet.jobs.annotate.result import InputResult, JobResult
from centernet.jobs.annotate.run import AnnotateEvent, InputAnnotation, annotate_input, ignore_event, run_job
from centernet.jobs.annotate.state import STATE_DIR, ResumeState, already_complete, model_digest, run_fingerprint

__all__ = ["FORMATS", "OUTPUT_FILES", "SUMMARY_FILE", "STATE_DIR", "AnnotateEvent", "AnnotateOptions",
           "InputAnnotation", "InputResult", "JobInput", "JobResult", "ResumeState", "RunStats", "already_complete",
           "annotate_input", "build_summary", "estimate_frames", "estimate_input_frames", "expand_inputs",
           "ignore_event", "model_digest", "output_name", "parse_formats", "plan_job",
           "run_fingerprint", "run_job", "write_exports"]
