#include "sbx_front.h"

#include <stddef.h>
#include <string.h>

static const char *const names[] = {"none", "redirect", "html400", "portal"};

int sbx_front_parse(const char *name, enum sbx_front *out)
{
    for (size_t i = 1; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum sbx_front)i;
            return 0;
        }
    }
    return -1;
}

const char *sbx_front_name(enum sbx_front mode)
{
    return (size_t)mode < sizeof names / sizeof names[0] ? names[mode] : "none";
}

void sbx_front_answer(enum sbx_front mode, struct sbx_front_answer *out)
{
    out->location = NULL;
    switch (mode) {
    case SBX_FRONT_REDIRECT:
        out->http_status = 301;
        out->content_type = "text/html";
        out->location = "https://example.invalid/";
        out->body = "<html>\r\n<head><title>301 Moved Permanently</title>"
                    "</head>\r\n<body>\r\n<center><h1>301 Moved Permanently"
                    "</h1></center>\r\n<hr><center>nginx</center>\r\n"
                    "</body>\r\n</html>\r\n";
        return;
    case SBX_FRONT_HTML400:
        out->http_status = 400;
        out->content_type = "text/html";
        out->body = "<html>\r\n<head><title>400 Bad Request</title></head>"
                    "\r\n<body>\r\n<center><h1>400 Bad Request</h1>"
                    "</center>\r\n<center>Request Header Or Cookie Too "
                    "Large</center>\r\n<hr><center>nginx</center>\r\n"
                    "</body>\r\n</html>\r\n";
        return;
    case SBX_FRONT_PORTAL:
    case SBX_FRONT_NONE:
        break;
    }
    out->http_status = 200;
    out->content_type = "text/html; charset=utf-8";
    out->body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                "<title>Guest Wi-Fi</title></head>\n<body><h1>Welcome"
                "</h1><p>Please accept the terms of use to continue."
                "</p>\n<form method=\"post\" action=\"/portal/accept\">"
                "<input type=\"checkbox\" name=\"terms\"> I agree "
                "<button type=\"submit\">Connect</button></form>\n"
                "</body></html>\n";
}
