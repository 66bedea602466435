from zidong.config.special_tokens import BOS_ID, EOS_ID, LANG_IDS, MASK_ID, PAD_ID, UNK_ID
from zidong.data.tokenizer import Tokenizer
from tests.data.conftest import CAPTIONS, training_captions


def test_english_words_and_chinese_characters_are_tokens(tokenizer):
    assert tokenizer.pieces("two small green circles are to the left of a big purple star") == \
        ["▁two", "▁small", "▁green", "▁circles", "▁are", "▁to", "▁the", "▁left", "▁of", "▁a",
         "▁big", "▁purple", "▁star"]
    zh = "两个小的绿色圆形在一个大的紫色星星的左边。"
    assert [p.lstrip("▁") for p in tokenizer.pieces(zh)] == list(zh)
    for caption in CAPTIONS:
        ids = tokenizer.encode(caption)
        assert UNK_ID not in ids
        assert tokenizer.decode([BOS_ID] + ids + [EOS_ID, PAD_ID, PAD_ID]) == caption


def test_special_ids_and_unseen_characters(tokenizer):
    sp = tokenizer.sp
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID)
    assert sp.id_to_piece(MASK_ID) == "<mask>"
    assert {sp.id_to_piece(i) for i in LANG_IDS.values()} == {"<en>", "<zh>"}
    # characters never seen in training fall back to their UTF-8 bytes: nothing becomes <unk>
    for text in ("一只犬在草地上", "a goat, über café"):
        ids = tokenizer.encode(text)
        assert UNK_ID not in ids and tokenizer.decode(ids) == text
    assert len(tokenizer.encode("犬")) == 1 + 3  # the word-start piece and three UTF-8 bytes


def test_save_and_load_is_exact_and_training_is_deterministic(tmp_path, tokenizer):
    path = tokenizer.save(tmp_path / "run" / "tokenizer.model")
    again = Tokenizer.load(path)
    assert again.sha256 == tokenizer.sha256
    assert Tokenizer.train(training_captions(), 500).sha256 == tokenizer.sha256
    for caption in CAPTIONS:
        assert again.encode(caption) == tokenizer.encode(caption)


def test_sentences_start_with_their_language_token(tokenizer):
    assert tokenizer.start_id("en") == LANG_IDS["en"] and tokenizer.start_id("zh") == LANG_IDS["zh"]
    assert tokenizer.start_id("fr") == BOS_ID             # no token of its own: plain BOS
    ids = tokenizer.encode("a red star")
    assert tokenizer.decode([LANG_IDS["en"]] + ids + [EOS_ID]) == "a red star"


def test_a_tokenizer_from_before_language_tokens_still_loads():
    import io
    import sentencepiece as spm
    from zidong.data.tokenizer import split_cjk
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(map(split_cjk, training_captions())), model_writer=buf, model_type="bpe",
        vocab_size=500, hard_vocab_limit=False, character_coverage=1.0, pad_id=PAD_ID,
        unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID, user_defined_symbols=["<mask>"],
        byte_fallback=True, minloglevel=2)
    old = Tokenizer(buf.getvalue())
    assert old.lang_ids == {} and old.start_id("en") == BOS_ID   # what such runs trained with


def test_ids_beyond_the_tokenizer_decode_to_nothing(tokenizer):
    """The decoder's vocabulary (model.text.vocab_size) can be larger than the tokenizer's."""
    ids = tokenizer.encode("a big red star")
    assert tokenizer.decode(ids + [tokenizer.vocab_size, tokenizer.vocab_size + 7]) == "a big red star"
