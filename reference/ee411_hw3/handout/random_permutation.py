# The code the EE-411 handout gives students (problem 3, PermutedKMNIST): it is left out
# of similarity comparisons, since every student is told to paste it.
class RandomPermutation(object):
    def __init__(self, num_features):
        self.num_features = num_features
        self.reindex = torch.randperm(num_features)

    def __call__(self, img):
        assert self.num_features == img.numel()

        orig_shape = img.shape
        img = img.view(-1)[self.reindex].view(orig_shape)

        return img
