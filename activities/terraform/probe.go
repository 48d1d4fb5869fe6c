package terraform

import _ "github.com/hashicorp/terraform-exec/tfexec"
