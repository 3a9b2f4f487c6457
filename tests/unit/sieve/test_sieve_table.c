/* The interpreter's table: (script, message, envelope) -> actions,
 * mostly the RFCs' own examples, one row per example, named after the
 * RFC section it comes from. */
#include <glib.h>
#include <string.h>

#include "sieve_tmsg.h"

static const char msg_plain[] =
	"Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n"
	"From: coyote@desert.example.org\r\n"
	"To: roadrunner@acme.example.com\r\n"
	"Subject: I have a present for you\r\n"
	"X-Priority: 4\r\n"
	"\r\n"
	"Look, I'm sorry about the whole anvil thing, and I really\r\n"
	"didn't mean to try and drop it on you from the top of the\r\n"
	"cliff.  I want to try to make it up to you.  I've got some\r\n"
	"great birdseed over here at my place--top of the line\r\n"
	"stuff--and if you come by, I'll have it all wrapped\r\n"
	"up for you.  I'm really sorry for all the problems I've\r\n"
	"caused for you over the years, but I know we can work\r\n"
	"this out.\r\n"
	"--\r\n"
	"Wile E. Coyote   \"Super Genius\"   coyote@desert.example.org\r\n";

static const char msg_list[] =
	"From: Ann <ann@example.com>\r\n"
	"Sender: owner-ietf-mta-filters@imc.org\r\n"
	"To: \"Me\" <me@example.com>, other@example.net\r\n"
	"Cc: coyote@ACME.Example.COM\r\n"
	"List-ID: Acme users <acme-users@lists.example.com>\r\n"
	"Subject: [acme-users] [fwd] version 1.0 is out\r\n"
	"Received: from a by b; Tue, 1 Apr 1997 09:06:31 -0800\r\n"
	"Received: from c by d; Tue, 1 Apr 1997 09:05:00 -0800\r\n"
	"Received: from e by f; Tue, 1 Apr 1997 09:04:00 -0800\r\n"
	"Date: Thu, 04 Oct 2007 10:30:00 +0200\r\n"
	"\r\n"
	"MAKE MONEY FAST: the missile coordinates are attached.\r\n";

static const char msg_boss[] = "From: boss@example.com\r\n"
			       "To: Wile <wile@example.com>\r\n"
			       "Subject: Meeting\r\n"
			       "Date: Thu, 04 Oct 2007 14:15:00 -0700\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "\r\n"
			       "Be there.\r\n";

static const char msg_utf8[] = "From: x@example.com\r\n"
			       "Subject: \xc3\x80 la carte\r\n"
			       "\r\n"
			       "body\r\n";

struct row {
	const char *name;
	const char *script;
	const char *msg;
	const char *from, *to;
	const char *want;
};

static const struct row rows[] = {
	/* RFC 5228 */
	{"5228/9 example filter: list to folder",
	 "#\n# Example Sieve Filter\n"
	 "require [\"fileinto\"];\n"
	 "if header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\n"
	 "        {\n        fileinto \"filter\";  # move to \"filter\" "
	 "mailbox\n        }\n"
	 "elsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\n"
	 "        {\n        keep;\n        }\n"
	 "elsif anyof (NOT address :all :contains\n"
	 "               [\"To\", \"Cc\", \"Bcc\"] \"me@example.com\",\n"
	 "             header :matches \"subject\"\n"
	 "               [\"*make*money*fast*\", \"*university*dipl*mas*\"])\n"
	 "        {\n        fileinto \"spam\";\n        }\n"
	 "else\n        {\n        fileinto \"personal\";\n        }\n",
	 msg_list, "ann@example.com", "me@example.com", "fileinto filter"},
	{"5228/9 example filter: company mail kept",
	 "require [\"fileinto\"];\n"
	 "if header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\n"
	 "  { fileinto \"filter\"; }\n"
	 "elsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\n"
	 "  { keep; }\n"
	 "elsif anyof (NOT address :all :contains\n"
	 "   [\"To\", \"Cc\", \"Bcc\"] \"me@example.com\",\n"
	 "   header :matches \"subject\"\n"
	 "   [\"*make*money*fast*\", \"*university*dipl*mas*\"])\n"
	 "  { fileinto \"spam\"; }\n"
	 "else { fileinto \"personal\"; }\n",
	 msg_boss, "boss@example.com", "wile@example.com", "keep"},
	{"5228/9 example filter: spam",
	 "require [\"fileinto\"];\n"
	 "if header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\n"
	 "  { fileinto \"filter\"; }\n"
	 "elsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\n"
	 "  { keep; }\n"
	 "elsif anyof (NOT address :all :contains\n"
	 "   [\"To\", \"Cc\", \"Bcc\"] \"me@example.com\",\n"
	 "   header :matches \"subject\"\n"
	 "   [\"*make*money*fast*\", \"*university*dipl*mas*\"])\n"
	 "  { fileinto \"spam\"; }\n"
	 "else { fileinto \"personal\"; }\n",
	 msg_plain, "coyote@desert.example.org", "rr@acme.example.com",
	 "fileinto spam"},
	{"5228/2.10.2 implicit keep", "# nothing\n", msg_plain, "a@b", "c@d",
	 "implicit-keep"},
	{"5228/4.4 discard cancels implicit keep",
	 "if size :over 100 { discard; }", msg_plain, "a@b", "c@d", "discard"},
	{"5228/5.9 size :under", "if size :under 1M { discard; }", msg_plain,
	 "a@b", "c@d", "discard"},
	{"5228/5.9 size :over 100K false", "if size :over 100K { discard; }",
	 msg_plain, "a@b", "c@d", "implicit-keep"},
	{"5228/4.2 redirect", "redirect \"bart@example.com\";", msg_plain,
	 "a@b", "c@d", "redirect bart@example.com"},
	{"5228/4.2 duplicate redirect collapses",
	 "redirect \"bart@example.com\"; redirect \"BART@example.com\";",
	 msg_plain, "a@b", "c@d", "redirect bart@example.com"},
	{"5228/4.1 duplicate fileinto collapses",
	 "require \"fileinto\"; fileinto \"a\"; fileinto \"a\"; keep; keep;",
	 msg_plain, "a@b", "c@d", "fileinto a; keep"},
	{"5228/4.1 fileinto INBOX and keep collapse",
	 "require \"fileinto\"; fileinto \"INBOX\"; keep;", msg_plain, "a@b",
	 "c@d", "fileinto INBOX"},
	{"5228/3.3 stop", "stop; discard;", msg_plain, "a@b", "c@d",
	 "implicit-keep"},
	{"5228/5.1 address :is :all",
	 "if address :is :all \"from\" \"coyote@desert.example.org\" "
	 "{ discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	{"5228/5.1 address :localpart ignores display name",
	 "if address :localpart :is \"to\" \"me\" { discard; }", msg_list,
	 "a@b", "c@d", "discard"},
	{"5228/5.4 envelope",
	 "require \"envelope\";\n"
	 "if envelope :all :is \"from\" \"tim@example.com\" { discard; }",
	 msg_plain, "tim@example.com", "c@d", "discard"},
	{"5228/5.4 envelope null sender is empty",
	 "require \"envelope\";\n"
	 "if envelope :is \"from\" \"\" { discard; }",
	 msg_plain, "", "c@d", "discard"},
	{"5228/5.5 exists", "if exists [\"From\",\"Date\"] { discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	{"5228/5.5 exists needs all",
	 "if exists [\"From\",\"X-Nope\"] { discard; }", msg_plain, "a@b",
	 "c@d", "implicit-keep"},
	{"5228/5.7 header :contains casemap",
	 "if header :contains \"subject\" \"PRESENT\" { discard; }", msg_plain,
	 "a@b", "c@d", "discard"},
	{"5228/5.7 header i;octet is case-sensitive",
	 "if header :comparator \"i;octet\" :contains \"subject\" \"PRESENT\""
	 " { discard; }",
	 msg_plain, "a@b", "c@d", "implicit-keep"},
	{"5228/2.7.1 :matches ? and escapes",
	 "if header :matches \"x-priority\" \"?\" { discard; }", msg_plain,
	 "a@b", "c@d", "discard"},
	{"5228/2.7.1 :matches escaped star is literal",
	 "if header :matches \"subject\" \"I have\\\\*\" { discard; }",
	 msg_plain, "a@b", "c@d", "implicit-keep"},
	{"5228/5.3 not", "if not true { discard; } else { stop; }", msg_plain,
	 "a@b", "c@d", "implicit-keep"},
	{"5228/5.2 allof short-circuit",
	 "if allof (true, false) { discard; } elsif anyof(false, true) "
	 "{ redirect \"x@y\"; }",
	 msg_plain, "a@b", "c@d", "redirect x@y"},
	{"5228/2.4.2 multi-line and dot-stuffing",
	 "require \"reject\";\nreject text:\n..dotted\nline two\n.\n;",
	 msg_plain, "a@b", "c@d", "reject .dotted\r\nline two\r\n"},
	{"5228/2.4.2.4 encoded-character",
	 "require [\"encoded-character\", \"fileinto\"];\n"
	 "fileinto \"${hex: 49 4e}BOX.${unicode:44 0041}\";",
	 msg_plain, "a@b", "c@d", "fileinto INBOX.DA"},
	/* RFC 5229 variables */
	{"5229/3 variables case-insensitive names",
	 "require [\"variables\", \"fileinto\"];\n"
	 "set \"honorific\" \"Mr\"; set \"last_name\" \"Coyote\";\n"
	 "fileinto \"${HONORIFIC} ${last_name} ${unknown}x\";",
	 msg_plain, "a@b", "c@d", "fileinto Mr Coyote x"},
	{"5229/4.1 modifiers",
	 "require [\"variables\", \"fileinto\"];\n"
	 "set \"a\" \"juMBlEd lETteRS\";\n"
	 "set :length \"b\" \"${a}\"; fileinto \"${b}\";\n"
	 "set :lower \"b\" \"${a}\"; fileinto \"${b}\";\n"
	 "set :upperfirst \"b\" \"${a}\"; fileinto \"${b}\";\n"
	 "set :upperfirst :lower \"b\" \"${a}\"; fileinto \"${b}\";\n"
	 "set :quotewildcard \"b\" \"Rock*\"; fileinto \"${b}\";\n",
	 msg_plain, "a@b", "c@d",
	 "fileinto 15; fileinto jumbled letters; fileinto JuMBlEd lETteRS; "
	 "fileinto Jumbled letters; fileinto Rock\\*"},
	{"5229/3.2 match variables: List-ID",
	 "require [\"fileinto\", \"variables\"];\n"
	 "if header :matches \"List-ID\" \"*<*@*\" {\n"
	 "    fileinto \"INBOX.lists.${2}\"; stop;\n}\n",
	 msg_list, "a@b", "c@d", "fileinto INBOX.lists.acme-users"},
	{"5229/3.2 match variables: Subject",
	 "require [\"fileinto\", \"variables\"];\n"
	 "if header :matches \"Subject\" \"[*] *\" {\n"
	 "    fileinto \"INBOX.lists.${1}\"; fileinto \"${2}\"; stop;\n}\n",
	 msg_list, "a@b", "c@d",
	 "fileinto INBOX.lists.acme-users; fileinto [fwd] version 1.0 is out"},
	{"5229/3.2 match variables: address **",
	 "require [\"fileinto\", \"variables\"];\n"
	 "if address :matches [\"To\", \"Cc\"] [\"coyote@**.com\",\n"
	 "        \"wile@**.com\"] {\n"
	 "    fileinto \"INBOX.business.${2}[${1}]${0}\"; stop;\n}\n",
	 msg_list, "a@b", "c@d",
	 "fileinto INBOX.business.ACME.Example[]coyote@ACME.Example.COM"},
	{"5229/5 string test",
	 "require [\"variables\"];\nset \"x\" \"abc\";\n"
	 "if string :is \"${x}\" \"abc\" { discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	{"5229/5 string :count skips empty strings",
	 "require [\"variables\", \"relational\",\n"
	 "\"comparator-i;ascii-numeric\"];\n"
	 "if string :count \"eq\" :comparator \"i;ascii-numeric\" "
	 "[\"a\", \"\", \"b\"] \"2\" { discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	/* RFC 5232 imap4flags */
	{"5232/7 setflag then fileinto :flags from a variable",
	 "require [\"imap4flags\", \"fileinto\", \"variables\"];\n"
	 "if header :contains \"from\" \"boss@example.com\" {\n"
	 "    setflag \"flagvar\" \"\\\\Flagged\";\n"
	 "    fileinto :flags \"${flagvar}\" \"INBOX.From Boss\";\n}\n",
	 msg_boss, "a@b", "c@d", "fileinto INBOX.From Boss [\\Flagged]"},
	{"5232/3 internal variable flags the implicit keep",
	 "require \"imap4flags\";\n"
	 "addflag [\"\\\\Seen\", \"$Junk\"]; addflag \"\\\\seen \\\\Answered\";"
	 " removeflag \"$junk\";",
	 msg_plain, "a@b", "c@d", "implicit-keep [\\Seen \\Answered]"},
	{"5232/5 hasflag",
	 "require [\"imap4flags\", \"variables\"];\n"
	 "setflag \"v\" \"A B C\"; if hasflag :contains \"v\" \"b\" "
	 "{ discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	{"5232/4 keep uses current flags",
	 "require \"imap4flags\"; setflag \"\\\\Flagged\"; keep; "
	 "setflag \"\\\\Seen\";",
	 msg_plain, "a@b", "c@d", "keep [\\Flagged]"},
	/* RFC 5231 relational */
	{"5231/6 :value gt numeric",
	 "require [\"relational\", \"comparator-i;ascii-numeric\"];\n"
	 "if header :value \"gt\" :comparator \"i;ascii-numeric\" "
	 "[\"x-priority\"] [\"3\"] { discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	{"5231/6 :count of Received",
	 "require [\"relational\", \"comparator-i;ascii-numeric\"];\n"
	 "if header :count \"ge\" :comparator \"i;ascii-numeric\" "
	 "[\"received\"] [\"3\"] { discard; }",
	 msg_list, "a@b", "c@d", "discard"},
	{"5231/6 :count of addresses",
	 "require [\"relational\", \"comparator-i;ascii-numeric\"];\n"
	 "if address :count \"eq\" :comparator \"i;ascii-numeric\" "
	 "[\"to\", \"cc\"] [\"3\"] { discard; }",
	 msg_list, "a@b", "c@d", "discard"},
	{"5231/4 numeric: non-digits are infinity",
	 "require [\"relational\", \"comparator-i;ascii-numeric\"];\n"
	 "if header :value \"gt\" :comparator \"i;ascii-numeric\" "
	 "\"subject\" \"99999\" { discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	/* RFC 5233 subaddress */
	{"5233/6 :user",
	 "require [\"envelope\", \"subaddress\", \"fileinto\"];\n"
	 "if envelope :user \"to\" \"postmaster\" {\n"
	 "    fileinto \"inbox.postmaster\"; stop;\n}\n"
	 "if envelope :detail :is \"to\" \"mta-filters\" {\n"
	 "    fileinto \"inbox.ietf-mta-filters\"; stop;\n}\n",
	 msg_plain, "a@b", "postmaster+x@example.com",
	 "fileinto inbox.postmaster"},
	{"5233/6 :detail",
	 "require [\"envelope\", \"subaddress\", \"fileinto\"];\n"
	 "if envelope :user \"to\" \"postmaster\" {\n"
	 "    fileinto \"inbox.postmaster\"; stop;\n}\n"
	 "if envelope :detail :is \"to\" \"mta-filters\" {\n"
	 "    fileinto \"inbox.ietf-mta-filters\"; stop;\n}\n",
	 msg_plain, "a@b", "ken+mta-filters@example.com",
	 "fileinto inbox.ietf-mta-filters"},
	{"5233/4 :detail without separator does not match",
	 "require [\"envelope\", \"subaddress\"];\n"
	 "if envelope :detail :matches \"to\" \"*\" { discard; }",
	 msg_plain, "a@b", "ken@example.com", "implicit-keep"},
	/* RFC 3894 copy */
	{"3894/4 redirect :copy keeps",
	 "require [\"copy\"];\nredirect :copy \"sieve-admin@example.com\";",
	 msg_plain, "a@b", "c@d",
	 "redirect sieve-admin@example.com :copy; implicit-keep"},
	{"3894/3 fileinto :copy keeps",
	 "require [\"copy\", \"fileinto\"];\nfileinto :copy \"Archive\";",
	 msg_plain, "a@b", "c@d", "fileinto Archive :copy; implicit-keep"},
	{"3894 fileinto :copy INBOX is the implicit keep",
	 "require [\"copy\", \"fileinto\"];\nfileinto :copy \"INBOX\";",
	 msg_plain, "a@b", "c@d", "fileinto INBOX :copy"},
	{"5229/4.1 :quotewildcard makes a literal pattern",
	 "require [\"variables\", \"fileinto\"];\n"
	 "set :quotewildcard \"q\" \"a*b?\";\n"
	 "if string :matches \"a*b?\" \"${q}\" { fileinto \"lit\"; }\n"
	 "if string :matches \"axxbc\" \"${q}\" { fileinto \"wild\"; }",
	 msg_plain, "a@b", "c@d", "fileinto lit"},
	{"5232/5 hasflag :count and case-insensitive flags",
	 "require [\"imap4flags\", \"relational\", "
	 "\"comparator-i;ascii-numeric\"];\n"
	 "addflag [\"A\", \"a\", \"B\"];\n"
	 "if hasflag :count \"eq\" :comparator \"i;ascii-numeric\" \"2\" "
	 "{ discard; }",
	 msg_plain, "a@b", "c@d", "discard"},
	/* RFC 5173 body */
	{"5173/7 body :raw",
	 "require \"body\";\n"
	 "if body :raw :contains \"MAKE MONEY FAST\" { discard; }",
	 msg_list, "a@b", "c@d", "discard"},
	{"5173/7 body :content text",
	 "require [\"body\", \"fileinto\"];\n"
	 "if body :content \"text\" :contains [\"missile\", \"coordinates\"]"
	 " { fileinto \"secrets\"; }",
	 msg_list, "a@b", "c@d", "fileinto secrets"},
	{"5173/5 body :content other type",
	 "require [\"body\", \"fileinto\"];\n"
	 "if body :content \"image\" :contains \"missile\" "
	 "{ fileinto \"secrets\"; }",
	 msg_list, "a@b", "c@d", "implicit-keep"},
	/* RFC 5429 reject */
	{"5429/2.1 reject",
	 "require [\"reject\"];\n"
	 "if header :contains \"from\" \"coyote@desert.example.org\" {\n"
	 "  reject text:\nI am not taking mail from you, and I don't\n"
	 "want your birdseed, either!\n.\n  ;\n}\n",
	 msg_plain, "a@b", "c@d",
	 "reject I am not taking mail from you, and I don't\r\n"
	 "want your birdseed, either!\r\n"},
	{"5429/2.2 ereject", "require \"ereject\"; ereject \"no\";", msg_plain,
	 "a@b", "c@d", "ereject no"},
	{"5429/2.1 reject with fileinto is an error",
	 "require [\"reject\", \"fileinto\"];\nfileinto \"x\";\n"
	 "reject \"no\";",
	 msg_plain, "a@b", "c@d",
	 "ERROR: line 3: reject conflicts with fileinto (line 2)"},
	{"5429/2.1 keep then reject is an error",
	 "require \"reject\";\nkeep;\nreject \"no\";", msg_plain, "a@b", "c@d",
	 "ERROR: line 3: reject conflicts with keep (line 2)"},
	{"5429/2.1 reject with vacation is an error",
	 "require [\"reject\", \"vacation\"];\nreject \"no\";\n"
	 "vacation \"away\";",
	 msg_plain, "a@b", "c@d",
	 "ERROR: line 3: vacation conflicts with reject (line 2)"},
	{"5429 reject then discard is fine",
	 "require \"reject\"; reject \"no\"; discard;", msg_plain, "a@b", "c@d",
	 "reject no; discard"},
	/* RFC 5230 vacation */
	{"5230/4 vacation example",
	 "require \"vacation\";\n"
	 "if header :contains \"subject\" \"cyrus\" {\n"
	 "    vacation \"I'm out -- send mail to cyrus-bugs\";\n"
	 "} else {\n"
	 "    vacation \"I'm out -- call me at +1 304 555 0123\";\n}\n",
	 msg_plain, "a@b", "c@d",
	 "vacation reason=I'm out -- call me at +1 304 555 0123; "
	 "implicit-keep"},
	{"5230/4.1 :days and :addresses",
	 "require [\"vacation\"];\n"
	 "vacation :days 7 :addresses [\"tjs@example.edu\",\n"
	 "  \"ts4z@landru.example.edu\"]\n"
	 "  \"I'm away until October 19.\";",
	 msg_plain, "a@b", "c@d",
	 "vacation days=7 addr=tjs@example.edu addr=ts4z@landru.example.edu "
	 "reason=I'm away until October 19.; implicit-keep"},
	{"5230/4.2 :subject :from :handle :mime with variables",
	 "require [\"vacation\", \"variables\"];\n"
	 "if header :matches \"subject\" \"*\" { set \"s\" \"${1}\"; }\n"
	 "vacation :subject \"Re: ${s}\" :from \"me@example.com\" "
	 ":handle \"h1\" :mime \"Content-Type: text/plain\r\n\r\nAway\";",
	 msg_plain, "a@b", "c@d",
	 "vacation subject=Re: I have a present for you from=me@example.com "
	 "mime handle=h1 reason=Content-Type: text/plain\r\n\r\nAway; "
	 "implicit-keep"},
	{"5230/4 :days 0 is 1", "require \"vacation\"; vacation :days 0 \"x\";",
	 msg_plain, "a@b", "c@d", "vacation days=1 reason=x; implicit-keep"},
	{"6131 :seconds",
	 "require \"vacation-seconds\"; vacation :seconds 0 \"x\";", msg_plain,
	 "a@b", "c@d", "vacation reason=x; implicit-keep"},
	{"5230 two vacations is an error",
	 "require \"vacation\";\nvacation \"a\";\nvacation \"b\";", msg_plain,
	 "a@b", "c@d",
	 "ERROR: line 3: only one vacation per run (first on line 2)"},
	/* RFC 5260 date/index */
	{"5260/7 date :originalzone hour",
	 "require [\"date\", \"relational\", \"fileinto\"];\n"
	 "if allof(header :is \"from\" \"boss@example.com\",\n"
	 "         date :value \"ge\" :originalzone \"date\" \"hour\" \"09\",\n"
	 "         date :value \"lt\" :originalzone \"date\" \"hour\" \"17\")\n"
	 "{ fileinto \"urgent\"; }\n",
	 msg_boss, "a@b", "c@d", "fileinto urgent"},
	{"5260/7 date :zone and parts",
	 "require [\"date\", \"variables\", \"fileinto\"];\n"
	 "if date :zone \"+0000\" :matches \"date\" \"iso8601\" \"*\" "
	 "{ fileinto \"${1}\"; }\n"
	 "if date :zone \"+0000\" :matches \"date\" \"std11\" \"*\" "
	 "{ fileinto \"${1}\"; }\n"
	 "if date :matches \"date\" \"julian\" \"*\" { fileinto \"${1}\"; }\n"
	 "if date :matches \"date\" \"weekday\" \"*\" { fileinto \"${1}\"; }\n"
	 "if date :matches \"date\" \"zone\" \"*\" { fileinto \"${1}\"; }\n",
	 msg_boss, "a@b", "c@d",
	 "fileinto 2007-10-04T21:15:00+00:00; "
	 "fileinto Thu, 04 Oct 2007 21:15:00 +0000; fileinto 54377; "
	 "fileinto 4; fileinto -0700"},
	{"5260/7 currentdate",
	 "require [\"date\", \"relational\", \"vacation\"];\n"
	 "if allof(currentdate :value \"ge\" \"date\" \"2007-06-30\",\n"
	 "         currentdate :value \"le\" \"date\" \"2007-10-07\")\n"
	 "{ vacation :days 7  \"I'm away during the first week in July.\"; }",
	 msg_plain, "a@b", "c@d",
	 "vacation days=7 reason=I'm away during the first week in July.; "
	 "implicit-keep"},
	{"5260/6 :index 2 Received, :last",
	 "require [\"index\", \"fileinto\", \"variables\"];\n"
	 "if header :index 2 :matches \"received\" \"from * by *\" "
	 "{ fileinto \"${1}\"; }\n"
	 "if header :index 1 :last :matches \"received\" \"from * by *\" "
	 "{ fileinto \"${1}\"; }\n",
	 msg_list, "a@b", "c@d", "fileinto c; fileinto e"},
	{"5260/4 date of a Received field follows its ';'",
	 "require [\"date\", \"index\", \"relational\"];\n"
	 "if date :index 1 :originalzone :is \"received\" \"time\" "
	 "\"09:06:31\" { discard; }",
	 msg_list, "a@b", "c@d", "discard"},
	{"5260/4 unparsable date fails the test",
	 "require \"date\";\n"
	 "if date :matches \"subject\" \"year\" \"*\" { discard; }",
	 msg_list, "a@b", "c@d", "implicit-keep"},
	/* RFC 5490 mailbox */
	{"5490/3.1 fileinto :create",
	 "require [\"fileinto\", \"mailbox\"];\n"
	 "fileinto :create \"New\";",
	 msg_plain, "a@b", "c@d", "fileinto New :create"},
	{"5490/3.2 mailboxexists",
	 "require [\"fileinto\", \"mailbox\"];\n"
	 "if mailboxexists \"Partners\" { fileinto \"Partners\"; }\n"
	 "else { fileinto \"Other\"; }",
	 msg_plain, "a@b", "c@d", "fileinto Other"},
	/* RFC 5051 */
	{"5051 i;unicode-casemap folds beyond ASCII",
	 "require \"comparator-i;unicode-casemap\";\n"
	 "if header :comparator \"i;unicode-casemap\" :is \"subject\" "
	 "\"\xc3\xa0 LA CARTE\" { discard; }",
	 msg_utf8, "a@b", "c@d", "discard"},
	{"5051 i;ascii-casemap does not",
	 "if header :is \"subject\" \"\xc3\xa0 LA CARTE\" { discard; }",
	 msg_utf8, "a@b", "c@d", "implicit-keep"},
	/* limits */
	{"limit: redirects",
	 "redirect \"a@x\"; redirect \"b@x\"; redirect \"c@x\";\n"
	 "redirect \"d@x\";\nredirect \"e@x\";",
	 msg_plain, "a@b", "c@d",
	 "ERROR: line 3: too many redirects (limit 4)"},
};

static void run_row(gconstpointer p)
{
	const struct row *r = p;
	char *got = tmsg_run(r->script, r->msg, r->from, r->to);

	g_assert_cmpstr(got, ==, r->want);
	g_free(got);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *path = g_strdup_printf("/sieve/table/%03zu %s", i,
					     rows[i].name);

		g_strdelimit(path + strlen("/sieve/table/"), "/", ':');
		g_test_add_data_func(path, &rows[i], run_row);
		g_free(path);
	}
	return g_test_run();
}
