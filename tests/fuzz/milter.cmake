# mod_milter's reply side: packet framing, replies, option negotiation.
rmail_fuzz(milter_reply
  SOURCES tests/fuzz/fuzz_milter_reply.c modules/milter/milter_proto.c
  INCLUDES modules/milter)
