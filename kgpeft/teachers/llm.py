"""The ``llm`` teacher: a causal LM (a bigger model, or one already adapted) as the source of soft targets.

Token level, it gives its own top-k next-token distribution at each completion token of
a training row, which only makes sense when it tokenises like the student: the
vocabularies are compared when the teacher is built and a mismatch is a clear
:class:`~kgpeft.errors.TeacherError`. Path level (``predict``), it scores every
candidate relation path from the topic by the log-likelihood of the path's rendered
completion after the question's prompt.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgpeft.data.render import completion_ids
from kgpeft.errors import TeacherError
from kgpeft.teachers.base import PathDistribution, PathTeacher, TeacherConfig
from kgpeft.teachers.registry import register_teacher

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph

# Text whose token ids must agree between teacher and student: path syntax, names, digits, accents.
PROBE_TEXT = "<path> Côte d'Ivoire -> located in -> Western Africa </path>\n1234 ✓"


@dataclass
class LLMTeacherConfig(TeacherConfig):
    """Settings of the llm teacher.

    >>> LLMTeacherConfig(model="smollm2-135m-instruct").load_in_4bit
    False
    """

    model: str = field(default="", metadata={"help": "Teacher LM: hub id, local folder, .gguf file or alias."})
    adapter: str | None = field(default=None, metadata={"help": "PEFT adapter folder to put on the teacher LM."})
    student: str | None = field(
        default=None,
        metadata={"help": "The student's base model; its tokenizer must match the teacher's (checked at build)."},
    )
    load_in_4bit: bool = field(default=False, metadata={"help": "Load the teacher LM in 4-bit nf4 (needs a GPU)."})
    temperature: float = field(
        default=1.0, metadata={"help": "Temperature (> 0) of the teacher's token and path distributions."}
    )
    max_candidates: int = field(
        default=64, metadata={"help": "Candidate relation paths per question scored by path-level predict (>= 1)."}
    )
    batch_size: int = field(default=8, metadata={"help": "Sequences per teacher forward pass (>= 1)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.model:
            raise ValueError("model must name the teacher LM (hub id, folder, .gguf file or alias)")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        for name in ("max_candidates", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@register_teacher("llm")
class LLMTeacher(PathTeacher):
    """A causal LM teacher; the LM is loaded on first use, its tokenizer checked at construction.

    >>> teacher = LLMTeacher(LLMTeacherConfig(model="teacher-folder"), student_tokenizer=tok)  # doctest: +SKIP
    >>> ids, probs = teacher.token_topk([row], top_k=8)[0]  # doctest: +SKIP
    """

    config_class = LLMTeacherConfig
    config: LLMTeacherConfig

    def __init__(
        self,
        config: LLMTeacherConfig | None = None,
        *,
        student_tokenizer: PreTrainedTokenizerBase | None = None,
        **context: int,
    ) -> None:
        if config is None:
            raise TeacherError("the llm teacher needs a config naming its model: get_teacher('llm', model=...)")
        super().__init__(config, **context)
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._model: PreTrainedModel | None = None
        if student_tokenizer is None and self.config.student:
            from kgpeft.modeling import load_tokenizer

            student_tokenizer = load_tokenizer(self.config.student)
        if student_tokenizer is not None:
            self.check_tokenizer(student_tokenizer)

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        if self._tokenizer is None:
            from kgpeft.modeling import load_tokenizer

            self._tokenizer = load_tokenizer(self.config.model)
        return self._tokenizer

    @property
    def model(self) -> PreTrainedModel:
        """The teacher LM (with its adapter), loaded on first use, in eval mode."""
        if self._model is None:
            from kgpeft.modeling import load_base_model

            model, self._tokenizer = load_base_model(self.config.model, load_in_4bit=self.config.load_in_4bit)
            if self.config.adapter:
                from peft import PeftModel

                try:
                    model = PeftModel.from_pretrained(model, self.config.adapter)
                except (OSError, ValueError) as err:
                    raise TeacherError(f"{self.config.adapter}: cannot load the teacher's adapter ({err})") from err
            self._model = model.eval()
        return self._model

    def check_tokenizer(self, student: PreTrainedTokenizerBase) -> None:
        """Raise TeacherError unless the student tokenises exactly like the teacher (same vocab, same probe ids)."""
        teacher = self.tokenizer
        same_vocab = teacher.get_vocab() == student.get_vocab()
        teacher_ids = teacher(PROBE_TEXT, add_special_tokens=False)["input_ids"]
        student_ids = student(PROBE_TEXT, add_special_tokens=False)["input_ids"]
        if not same_vocab or teacher_ids != student_ids:
            raise TeacherError(
                f"the llm teacher '{self.config.model}' does not share the student's tokenizer "
                f"(vocabulary sizes {len(teacher)} vs {len(student)}, "
                f"probe text tokenised {'identically' if teacher_ids == student_ids else 'differently'}); "
                "token-level distillation needs the same tokenizer: use a teacher of the student's model family, "
                "or a path teacher (gnn, oracle)"
            )

    # ---- PathTeacher -----------------------------------------------------------------------

    def fit(
        self, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question] | None = None
    ) -> dict[str, float]:
        """Nothing to learn (the LM is given): binds the graph.

        Validation is not scored here: scoring every candidate path of every question with
        an LM is slow; :func:`~kgpeft.evaluation.evaluate_teacher` (``kgpeft teacher eval``) does it on demand.
        """
        self.kg = kg
        return {}

    def predict(self, question: Question) -> PathDistribution:
        """Candidate paths from the topic, scored by the LM's log-likelihood of their rendered completions."""
        import torch

        from kgpeft.data import render_completion, render_prompt, tokenize_example

        kg = self.require_kg()
        topic = self.require_topic(question)
        paths = kg.relation_paths(topic, self.max_hops, max_paths=self.config.max_candidates)
        messages = render_prompt(question.question)
        rows = [
            tokenize_example(self.tokenizer, messages, render_completion(kg, topic, [p], kg.execute(topic, p).tolist()))
            for p in paths
        ]
        scores = [
            float(log_probs.gather(-1, torch.tensor(completion_ids(row)).unsqueeze(-1)).sum()) / self.config.temperature
            for row, log_probs in zip(rows, self._completion_log_probs(rows), strict=True)
        ]
        ranked = sorted(zip(paths, scores, strict=True), key=lambda item: -item[1])[: self.config.top_n]
        return PathDistribution.from_scores(kg, topic, [p for p, _ in ranked], [s for _, s in ranked])

    # ---- token level -----------------------------------------------------------------------

    def token_topk(
        self, rows: Sequence[Mapping[str, Sequence[int]]], top_k: int
    ) -> list[tuple[list[list[int]], list[list[float]]]]:
        """Per row, the teacher's top-k (ids, probs) at each completion token (``completion_mask == 1``).

        The j-th entry is the distribution the teacher predicts for the j-th completion
        token from the tokens before it, at the configured temperature, renormalised over the k kept.
        """
        out = []
        for log_probs in self._completion_log_probs(rows):  # (C, V)
            # log_softmax differs from the logits by a per-row constant: dividing it by T is softmax(logits / T).
            top = (log_probs / self.config.temperature).softmax(-1).topk(min(top_k, log_probs.shape[-1]), dim=-1)
            values = top.values / top.values.sum(-1, keepdim=True)  # (C, k)
            pad = top_k - values.shape[-1]
            out.append(([i + [0] * pad for i in top.indices.tolist()], [v + [0.0] * pad for v in values.tolist()]))
        return out

    def _completion_log_probs(self, rows: Sequence[Mapping[str, Sequence[int]]]) -> Iterator[torch.Tensor]:
        """Per row, the teacher's next-token log-probs (C, V) at the positions predicting its C completion tokens.

        Yielded batch by batch, so only ``batch_size`` rows of (T, V) logits are alive at once.
        """
        import torch

        model = self.model
        device = next(model.parameters()).device
        pad_id = self.tokenizer.pad_token_id or 0
        for start in range(0, len(rows), self.config.batch_size):
            batch = rows[start : start + self.config.batch_size]
            width = max(len(r["input_ids"]) for r in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T), right-padded
            attention = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
            for i, r in enumerate(batch):
                ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
                attention[i, : len(r["input_ids"])] = 1
            with torch.no_grad():
                logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits  # (B, T, V)
            for i, r in enumerate(batch):
                # The logits at position t predict token t + 1, so completion token t is read at t - 1.
                positions = torch.nonzero(torch.tensor(r["completion_mask"], dtype=torch.bool)).squeeze(-1) - 1  # (C,)
                if len(positions) and positions[0] < 0:
                    raise TeacherError(
                        "a row's completion starts at its first token: there is no prompt to predict from"
                    )
                yield torch.log_softmax(logits[i, positions.to(device)].float(), dim=-1).cpu()  # (C, V)
